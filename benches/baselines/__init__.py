"""Pure-Python reference implementations: benchmark baselines and test oracles."""
