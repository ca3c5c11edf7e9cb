"""The explorer behind ``latentnav explore``: a local page with one slider per direction.

:mod:`~latentnav.explore.explorer` holds what the page shows and asks for without the web (sliders in each
direction's own units, requests checked, images rendered); :mod:`~latentnav.explore.app` is the small Starlette
app around it (:func:`~latentnav.explore.app.make_app`, testable without a socket); :mod:`~latentnav.explore.serve`
listens on a socket with uvicorn; ``page.html`` is the page (plain HTML and JavaScript, no build step).
Starlette and uvicorn come with the ``explore`` extra (``pip install 'latentnav[explore]'``); nothing here is
imported by ``import latentnav``.
"""
