"""ftps-harness: FTP-over-TLS connectivity through real NAT, firewalls and load balancers.

Data flows one way: Case -> Topology -> Lab -> Observation -> Verdict -> Report.
"""

__version__ = "0.1.0"
