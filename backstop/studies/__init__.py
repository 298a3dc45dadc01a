"""Studies built from many replays: compare (variants side by side) and size-fund (the smallest fund)."""
