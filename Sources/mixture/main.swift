print("mixture")
