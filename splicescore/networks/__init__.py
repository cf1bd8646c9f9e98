"""Plain ``nn.Module`` ports of the published networks (eval-mode forward only)."""
