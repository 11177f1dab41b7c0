"""Configurable multilayer perceptron used by encoders and heads."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

Norm = Literal["batch", "layer", "none"]


def make_activation(name: str) -> nn.Module:
    """Instantiate a ``torch.nn`` activation by class name (e.g. ``"SiLU"``, ``"ReLU"``)."""
    cls = getattr(nn, name, None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ValueError(
            f"Unknown activation {name!r}: use a torch.nn class name "
            "such as 'ReLU', 'SiLU', 'GELU'."
        )
    return cls()


def _make_norm(norm: Norm, dim: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm1d(dim)
    if norm == "layer":
        return nn.LayerNorm(dim)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"Unknown norm {norm!r}: choose 'batch', 'layer' or 'none'.")


class MLPBlock(nn.Module):
    """``Linear -> norm -> activation -> dropout``, with an optional residual connection.

    The residual is used only when input and output widths match.
    """

    def __init__(
        self, d_in: int, d_out: int, norm: Norm, activation: str, dropout: float, residual: bool
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.norm = _make_norm(norm, d_out)
        self.act = make_activation(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual = residual and d_in == d_out

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        """``(B, d_in) -> (B, d_out)``; ``extra (B, d_out)`` is added to the linear output."""
        z = self.linear(x)
        if extra is not None:
            z = z + extra
        h = self.drop(self.act(self.norm(z)))
        return x + h if self.residual else h


class MLP(nn.Module):
    """Stack of :class:`MLPBlock` over ``dims = [d_in, h1, ..., d_out]``.

    Args:
        dims: layer widths including the input width; at least two entries.
        norm: normalisation after each linear layer.
        activation: ``torch.nn`` activation class name.
        dropout: dropout probability after each block.
        residual: add skip connections between equal-width blocks.
        plain_last: make the last layer a bare ``Linear`` (for output layers).
    """

    def __init__(
        self,
        dims: list[int],
        norm: Norm = "none",
        activation: str = "SiLU",
        dropout: float = 0.0,
        residual: bool = False,
        plain_last: bool = False,
    ) -> None:
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"MLP needs at least an input and an output width, got dims={dims}.")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            if plain_last and i == len(dims) - 2:
                layers.append(nn.Linear(a, b))
            else:
                layers.append(MLPBlock(a, b, norm, activation, dropout, residual))
        self.layers = nn.Sequential(*layers)
        self.dims = list(dims)

    @property
    def out_dim(self) -> int:
        return self.dims[-1]

    def forward(self, x: Tensor, first_extra: Tensor | None = None) -> Tensor:
        """``(B, dims[0]) -> (B, dims[-1])``; ``first_extra (B, dims[1])``, if given, is added
        to the first layer's linear output (before its norm and activation)."""
        if first_extra is None:
            return self.layers(x)
        first = self.layers[0]
        if not isinstance(first, MLPBlock):
            raise ValueError("first_extra needs an MLP whose first layer is a block.")
        x = first(x, first_extra)
        for layer in self.layers[1:]:
            x = layer(x)
        return x
