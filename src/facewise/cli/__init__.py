"""The `facewise` command: a thin shell over the service layer."""
