"""Historical driver, metrics and reports."""
