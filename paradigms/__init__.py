"""SDMI and JMI paradigms: objectives, methods, encoders, data, training loop, monitors."""
