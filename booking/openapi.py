"""OpenAPI 3.1 description of the booking backend, served at ``GET /api/openapi.json``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from booking.http import json_response

routes = openapi_routes = web.RouteTableDef()

_ERROR = {"description": "Erreur : code machine et message en français",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _q(name: str, schema: dict[str, Any], required: bool = False, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


_REF = {"name": "reference", "in": "path", "required": True,
        "schema": {"type": "string", "pattern": "^[2-9A-HJ-NP-TW-Z-]{8,9}$"}}
_PROCEDURE = {"type": "string", "enum": ["passport", "cni", "both"]}
_PHONE_BODY = {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}}
_BEARER: list[dict[str, list[str]]] = [{"staffToken": []}]
_HUB: list[dict[str, list[str]]] = [{"antsHubToken": []}]

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "guichet — rendez-vous passeport / CNI", "version": "1.0.0",
             "description": "Service de rendez-vous de la mairie. Les erreurs sont des réponses 4xx JSON "
                            "`{error: {code, message}}`. Consulter, annuler ou déplacer un rendez-vous exige "
                            "sa référence et le numéro de téléphone donné à la réservation."},
    "paths": {
        "/health": {"get": {"summary": "État du service", "responses": {"200": {"description": "OK"}}}},
        "/api/v1/meeting-points": {"get": {"summary": "Lieux de rendez-vous",
                                           "responses": {"200": {"description": "Lieux"}}}},
        "/api/v1/closures": {"get": {
            "summary": "Fermetures exceptionnelles (celles du fichier de la commune et celles ajoutées par les agents)",
            "parameters": [{"name": "meeting_point_id", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Les fermetures, dates incluses"}, "400": _ERROR}}},
        "/api/v1/slots": {"get": {
            "summary": "Créneaux réservables, dans l'ordre chronologique",
            "parameters": [
                _q("procedure", _PROCEDURE, True), _q("people", {"type": "integer", "minimum": 1, "default": 1}),
                _q("from", {"type": "string", "format": "date"}, True),
                _q("to", {"type": "string", "format": "date"}, True),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                _q("part_of_day", {"type": "string", "enum": ["morning", "afternoon"]}),
                _q("meeting_point_id", {"type": "string"})],
            "responses": {"200": _json("#/components/schemas/SlotList", "Créneaux"), "400": _ERROR}}},
        "/api/v1/holds": {"post": {
            "summary": "Bloquer un créneau quelques minutes (le temps de confirmer)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["slot_id", "procedure"],
                "properties": {"slot_id": {"type": "string"}, "procedure": _PROCEDURE,
                               "people": {"type": "integer"}}}}}},
            "responses": {"201": _json("#/components/schemas/Hold", "Créneau bloqué"), "400": _ERROR,
                          "409": _ERROR}}},
        "/api/v1/holds/{hold_id}": {"delete": {
            "summary": "Libérer un créneau bloqué",
            "parameters": [{"name": "hold_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Libéré"}, "404": _ERROR}}},
        "/api/v1/appointments": {"post": {
            "summary": "Prendre rendez-vous",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"},
                            "description": "Une même clé rejouée renvoie le même rendez-vous (200)"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/NewAppointment"}}}},
            "responses": {"201": _json("#/components/schemas/Appointment", "Rendez-vous pris"),
                          "200": _json("#/components/schemas/Appointment", "Rejeu idempotent"),
                          "400": _ERROR, "409": _ERROR, "422": _ERROR}}},
        "/api/v1/appointments/{reference}": {"get": {
            "summary": "Consulter un rendez-vous",
            "parameters": [_REF, _q("phone", {"type": "string"}, True)],
            "responses": {"200": _json("#/components/schemas/Appointment", "Rendez-vous"), "400": _ERROR,
                          "404": _ERROR}}},
        "/api/v1/appointments/{reference}/cancel": {"post": {
            "summary": "Annuler un rendez-vous", "parameters": [_REF],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _PHONE_BODY}}},
            "responses": {"200": _json("#/components/schemas/Appointment", "Annulé"), "400": _ERROR,
                          "404": _ERROR, "409": _ERROR}}},
        "/api/v1/appointments/{reference}/reschedule": {"post": {
            "summary": "Déplacer un rendez-vous (l'ancien créneau n'est libéré que si le nouveau est pris)",
            "parameters": [_REF],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["phone", "slot_id"],
                "properties": {"phone": {"type": "string"}, "slot_id": {"type": "string"}}}}}},
            "responses": {"200": _json("#/components/schemas/Appointment", "Déplacé"), "400": _ERROR,
                          "404": _ERROR, "409": _ERROR}}},
        "/api/v1/staff/appointments": {"get": {
            "summary": "Rendez-vous d'une journée (agents)", "security": _BEARER,
            "parameters": [_q("date", {"type": "string", "format": "date"}),
                           _q("meeting_point_id", {"type": "string"})],
            "responses": {"200": {"description": "Rendez-vous du jour"}, "401": _ERROR}}},
        "/api/v1/staff/appointments/{reference}": {"get": {
            "summary": "Retrouver un rendez-vous par sa référence (agents)", "security": _BEARER,
            "parameters": [_REF],
            "responses": {"200": _json("#/components/schemas/Appointment", "Rendez-vous"), "401": _ERROR,
                          "404": _ERROR}}},
        "/api/v1/staff/appointments/{reference}/status": {"post": {
            "summary": "Marquer honoré / absent (agents)", "security": _BEARER, "parameters": [_REF],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"],
                "properties": {"status": {"type": "string", "enum": ["honoured", "no_show", "booked"]}}}}}},
            "responses": {"200": _json("#/components/schemas/Appointment", "Mis à jour"), "400": _ERROR,
                          "401": _ERROR, "404": _ERROR}}},
        "/api/v1/staff/closures": {"post": {
            "summary": "Ajouter une fermeture exceptionnelle (agents)", "security": _BEARER,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["start", "reason"],
                "properties": {"start": {"type": "string", "format": "date"},
                               "end": {"type": "string", "format": "date"}, "reason": {"type": "string"},
                               "meeting_point_id": {"type": "string"}}}}}},
            "responses": {"201": {"description": "Fermeture ajoutée, avec les rendez-vous à prévenir"},
                          "400": _ERROR, "401": _ERROR}}},
        "/api/ants/getManagedMeetingPoints": {"get": {
            "summary": "ANTS : lieux gérés", "security": _HUB,
            "responses": {"200": {"description": "Lieux"}, "401": _ERROR}}},
        "/api/ants/availableTimeSlots": {"get": {
            "summary": "ANTS : créneaux disponibles", "security": _HUB,
            "parameters": [_q("meeting_point_ids", {"type": "array", "items": {"type": "string"}}, True),
                           _q("start_date", {"type": "string", "format": "date"}, True),
                           _q("end_date", {"type": "string", "format": "date"}, True),
                           _q("reason", {"type": "string", "enum": ["CNI", "PASSPORT", "CNI-PASSPORT"]}, True),
                           _q("documents_number", {"type": "integer", "minimum": 1})],
            "responses": {"200": {"description": "Créneaux par lieu"}, "400": _ERROR, "401": _ERROR}}},
        "/api/ants/searchApplicationIds": {"get": {
            "summary": "ANTS : rendez-vous par numéro de pré-demande", "security": _HUB,
            "parameters": [_q("application_ids", {"type": "array", "items": {"type": "string"}}, True)],
            "responses": {"200": {"description": "Rendez-vous par numéro"}, "400": _ERROR, "401": _ERROR}}},
    },
    "components": {
        "securitySchemes": {
            "staffToken": {"type": "http", "scheme": "bearer"},
            "antsHubToken": {"type": "apiKey", "in": "header", "name": "X-HUB-RDV-AUTH-TOKEN"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Slot": {"type": "object", "required": ["id", "start", "end"], "properties": {
                "id": {"type": "string"}, "meeting_point_id": {"type": "string"},
                "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                "free_counters": {"type": "integer"}}},
            "SlotList": {"type": "object", "required": ["slots"],
                         "properties": {"slots": {"type": "array", "items": {"$ref": "#/components/schemas/Slot"}}}},
            "Hold": {"type": "object", "properties": {
                "hold_id": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"}}},
            "NewAppointment": {"type": "object", "required": ["slot_id", "procedure", "name", "phone"], "properties": {
                "slot_id": {"type": "string"}, "procedure": _PROCEDURE,
                "people": {"type": "integer", "minimum": 1, "default": 1},
                "name": {"type": "string", "maxLength": 120}, "phone": {"type": "string"},
                "email": {"type": "string"}, "hold_id": {"type": "string"},
                "application_ids": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9]{10}$"}},
                "channel": {"type": "string", "enum": ["api", "chat", "voice", "operator", "ants"]}}},
            "Appointment": {"type": "object", "properties": {
                "reference": {"type": "string"}, "reference_display": {"type": "string"},
                "status": {"type": "string", "enum": ["booked", "cancelled", "honoured", "no_show"]},
                "procedure": _PROCEDURE, "people": {"type": "integer"},
                "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                "meeting_point": {"type": "object"}, "name": {"type": "string"}, "phone": {"type": "string"},
                "application_ids": {"type": "array", "items": {"type": "string"}},
                "ants_sync": {"type": "string", "enum": ["none", "declared", "pending", "deleted"]},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "management_url": {"type": "string"}}},
        },
    },
}


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(SPEC)
