"""Where the operator meets the API server: the client, followers, scheduling, peering."""
