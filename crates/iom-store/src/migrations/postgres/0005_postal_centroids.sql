-- Centroids of postal codes, to locate a ship-to that has no coordinates.
CREATE TABLE postal_centroids (
    country TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    lat TEXT NOT NULL,
    lon TEXT NOT NULL,
    PRIMARY KEY (country, postal_code)
);
