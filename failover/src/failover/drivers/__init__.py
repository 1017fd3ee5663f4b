"""How the controller moves traffic: one driver per kind of load balancer, behind the `Driver` protocol."""
