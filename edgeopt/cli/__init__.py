"""The command-line interface: one module per verb (`*_cmd.py`); see cli/main.py."""
