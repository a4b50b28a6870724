"""What guards the HTTP endpoint before Bolt sees a request: the signature, the payload's
shape, and a deadline for each request to arrive."""
