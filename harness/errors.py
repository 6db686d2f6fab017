"""Errors a user can cause: the CLI prints them as one line and exits non-zero."""


class UserError(Exception):
    """Bad input from the user (config, dataset, block, missing tool): one clear line."""
