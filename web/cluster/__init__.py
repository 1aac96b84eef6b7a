"""Running the system as several processes (`callcentre serve --role …`) joined by Redis."""
