"""blocksnap: a block-level snapshot service speaking the EBS direct APIs."""
