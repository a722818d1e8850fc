"""mockidp pytest plugin."""
