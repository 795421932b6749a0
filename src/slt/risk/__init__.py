"""The independent risk layer: sizing, leverage, stops and exits, portfolio, protections."""
