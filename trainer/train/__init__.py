"""The two training stages: stage 1 (projector + mel decoder), stage 2 (HiFi-GAN)."""
