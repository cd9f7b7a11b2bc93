"""Sample inputs for the README and the tests: a register, parcels and coordinate files."""
