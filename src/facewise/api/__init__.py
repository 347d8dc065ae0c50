"""The Rekognition protocol edge: PascalCase AWS shapes exist only here."""
