"""DIRECT sampling: dimensionality reduction, clustering, stratified picks per cluster."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np

from foundation_model.workflows.datagen.samplers.base import Sampler
from foundation_model.workflows.datagen.samplers.descriptors import Descriptor, SOAPDescriptor


class DIRECTSampler(Sampler):
    """DImensionality-Reduced Encoded Clusters with sTratified picks.

    Descriptors are standardised and projected by PCA, clustered by k-means into
    ``n_samples / per_cluster`` clusters, and the ``per_cluster`` frames closest to each
    centroid are kept, so every region of descriptor space is represented.

    Args:
        n_samples: frames to keep.
        descriptor: SOAP (default) or a backbone embedding.
        n_components: PCA components (int) or explained-variance fraction (float < 1).
        per_cluster: frames picked per cluster.
    """

    def __init__(
        self,
        n_samples: int = 100,
        descriptor: Descriptor | None = None,
        n_components: float = 0.95,
        per_cluster: int = 1,
    ) -> None:
        super().__init__(n_samples)
        if per_cluster < 1 or n_components <= 0:
            raise ValueError("DIRECTSampler: need per_cluster >= 1 and n_components > 0.")
        self.descriptor = descriptor or SOAPDescriptor()
        self.n_components = n_components
        self.per_cluster = int(per_cluster)

    def reduce(self, x: np.ndarray) -> np.ndarray:
        """Standardised PCA coordinates ``(n, d)``."""
        from sklearn.decomposition import PCA

        std = x.std(axis=0)
        z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
        n_comp = self.n_components
        n_comp = int(n_comp) if n_comp >= 1 else float(n_comp)
        if isinstance(n_comp, int):
            n_comp = min(n_comp, *z.shape)
        return PCA(n_components=n_comp, svd_solver="full").fit_transform(z)

    def select(self, frames: Sequence[ase.Atoms], seed: int) -> list[int]:
        from sklearn.cluster import KMeans

        k = self._k(len(frames))
        self.features = self.descriptor.structures(frames)
        z = self.reduce(self.features)
        n_clusters = max(1, min(len(frames), int(np.ceil(k / self.per_cluster))))
        km = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(z)
        dist = np.linalg.norm(z - km.cluster_centers_[km.labels_], axis=1)
        chosen: list[int] = []
        for c in range(n_clusters):
            members = np.flatnonzero(km.labels_ == c)
            chosen += members[np.argsort(dist[members])][: self.per_cluster].tolist()
        # clusters smaller than per_cluster leave room: fill with the farthest-from-centre rest
        rest = np.setdiff1d(np.arange(len(frames)), chosen)
        chosen += rest[np.argsort(-dist[rest])][: k - len(chosen)].tolist()
        return [int(i) for i in chosen[:k]]
