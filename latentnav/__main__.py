from latentnav.cli import main

main()
