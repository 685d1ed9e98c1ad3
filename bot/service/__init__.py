"""Service: the long-running process (serve, scheduler, leader, health, metrics, runtime)."""
