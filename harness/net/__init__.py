"""The wire: network namespaces, links to targets, the Scapy peer, frame
matching and captures. See wire.py for the layout of the test network."""
