-- Databases of deploy/compose.yaml besides "booking" (created by POSTGRES_DB): the desk and Rasa's tracker store.
CREATE DATABASE desk OWNER guichet;
CREATE DATABASE rasa OWNER guichet;
