"""blocksnap's client: back up disks and images to any EBS-direct-API endpoint (blocksnap, AWS, moto) and restore them.

A package of its own so that the server's Lambda functions do not carry it;
it needs boto3 and tqdm, and from the server package only the one copy of the
checksum rules (``chalicelib.domain.checksums``, pure stdlib).
"""
