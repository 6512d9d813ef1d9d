"""Shops (salons): the tenant every other row belongs to."""
