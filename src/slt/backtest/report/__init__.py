"""Pieces shared by the terminal and HTML reports, so both show the same figures the same way."""
