"""The failover controller: probes each region, scores it, and moves traffic between regions."""
