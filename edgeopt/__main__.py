"""`python -m edgeopt`: the same CLI as `optimize`."""

from edgeopt.cli.main import main

main()
