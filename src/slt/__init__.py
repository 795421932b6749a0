"""SelfLearningTrader: an automated trader for Binance USDⓈ-M perpetual futures."""

__version__ = "0.1.0"
