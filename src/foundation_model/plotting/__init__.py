"""Plots saved as PNG: parity, confusion matrix + ROC, sequence curves, loss and sigma curves."""
