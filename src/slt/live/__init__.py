"""Live and paper trading: the Brain's parts around the one Engine.

The engine decides; these modules connect it to a real venue: `translate` turns the
user-data stream into engine events, `execution` sends the engine's commands over REST,
`reconcile` makes the engine's view agree with the exchange after a (re)start, `snapshot`
persists the engine state, and `trader` runs them together.
"""
