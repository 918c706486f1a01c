"""Tables owned by the judging service (judges, marking schemes, scores): see issue 5."""
