"""The analytics service: session and participant events in, the seed's five reports out."""
