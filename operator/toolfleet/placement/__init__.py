"""GPU placement: node inventory, matching, and the pod settings that place a replica."""
