from latentnav.cli import entry

entry()
