"""python -m simulator: the smart-car log generator."""
