"""The lab: train tiny GPTs on curated mixtures, evaluate them, and prove the data helped."""
