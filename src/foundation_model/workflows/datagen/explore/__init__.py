"""Exploration: MD (NVT/NPT chosen by vacuum detection), MC swaps, explosion guards."""
