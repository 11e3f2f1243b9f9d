"""The `burncloud dash` terminal dashboard, installed as the `burncloud_tui` package.

Nothing in `burncloud` imports it: the router never loads Textual.
"""
