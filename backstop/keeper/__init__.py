"""Keepers: the rules every keeper applies, the one ADL executor, the live bot and the ADL queue view."""
