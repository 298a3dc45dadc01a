"""Pure-Python reference models of the contracts' math. Tests require the contracts to agree with them
to the last unit."""
