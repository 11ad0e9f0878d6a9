"""Physics-inspired generators of normal and faulty machine signals."""
