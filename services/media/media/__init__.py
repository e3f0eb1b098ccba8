"""The SFU of the webinar suite: mediasoup's object model on aiortc's ICE, DTLS and SRTP layers."""
