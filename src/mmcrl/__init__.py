"""mmcrl: identifiable multimodal causal representation learning under partial latent sharing.

Latents z ∈ R^N follow a causal DAG; modality m sees the subset S_m of the latents through an injective nonlinear
mixing x_m = g_m(z_{S_m}). The package synthesises such data, trains encoders f_m, recovers the sharing pattern and
scores component-wise identifiability. See DESIGN §1 (docs) for the notation used throughout.
"""

__version__ = "0.1.0"
