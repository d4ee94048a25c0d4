"""`optimize run`: a recipe builds candidates, measures them together and picks one per target."""
