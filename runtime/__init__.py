"""Orchestra runtime: agent logic in pure Python (no Ray)."""
