import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI 3.1 description of every route. A test checks that
/// its paths and methods are exactly the router's.
struct OpenAPIDocument: ResponseGenerator {
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: Self.json)))
    }

    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Switchboard API",
    "version": "1.0.0",
    "description": "The REST API of the Switchboard WhatsApp gateway: tenants, sessions, API keys, sending, message status and the message log of a contact. Errors are RFC 9457 problem details (application/problem+json)."
  },
  "servers": [
    {
      "url": "http://127.0.0.1:8080"
    }
  ],
  "security": [
    {
      "apiKey": []
    }
  ],
  "tags": [
    {
      "name": "health"
    },
    {
      "name": "tenants"
    },
    {
      "name": "sessions"
    },
    {
      "name": "keys"
    },
    {
      "name": "messages"
    },
    {
      "name": "contacts"
    }
  ],
  "paths": {
    "/healthz": {
      "get": {
        "operationId": "health",
        "summary": "The process answers",
        "tags": [
          "health"
        ],
        "responses": {
          "200": {
            "description": "Alive.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            }
          }
        },
        "security": []
      }
    },
    "/readyz": {
      "get": {
        "operationId": "ready",
        "summary": "The broker connection is up and the store answers",
        "tags": [
          "health"
        ],
        "responses": {
          "200": {
            "description": "Ready.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Health"
                }
              }
            }
          },
          "503": {
            "description": "Not ready; `broker` and `store` members say why.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        },
        "security": []
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document",
        "tags": [
          "health"
        ],
        "responses": {
          "200": {
            "description": "OpenAPI 3.1.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/tenants": {
      "post": {
        "operationId": "createTenant",
        "summary": "Create a tenant and provision its queue",
        "tags": [
          "tenants"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CreateTenant"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Tenant"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The tenant exists.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "The body is not JSON.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "503": {
            "description": "The broker or the store is unreachable.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "get": {
        "operationId": "listTenants",
        "summary": "List tenants",
        "tags": [
          "tenants"
        ],
        "responses": {
          "200": {
            "description": "Every tenant.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "tenants"
                  ],
                  "properties": {
                    "tenants": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Tenant"
                      }
                    }
                  }
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/tenants/{tenant}": {
      "parameters": [
        {
          "name": "tenant",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The tenant's id (a slug)."
        }
      ],
      "get": {
        "operationId": "getTenant",
        "summary": "Read a tenant",
        "tags": [
          "tenants"
        ],
        "responses": {
          "200": {
            "description": "The tenant.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Tenant"
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "patch": {
        "operationId": "updateTenant",
        "summary": "Change a tenant's name or limits (a changed quota is applied to the broker)",
        "tags": [
          "tenants"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/UpdateTenant"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Changed.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Tenant"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "503": {
            "description": "The broker or the store is unreachable.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "delete": {
        "operationId": "deleteTenant",
        "summary": "Delete a tenant, its queue, sessions and keys",
        "tags": [
          "tenants"
        ],
        "parameters": [
          {
            "name": "force",
            "in": "query",
            "required": false,
            "schema": {
              "type": "boolean"
            },
            "description": "Delete even with queued messages."
          }
        ],
        "responses": {
          "204": {
            "description": "Deleted."
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The tenant's queue holds messages or has consumers (use force=true).",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "503": {
            "description": "The broker or the store is unreachable.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/tenants/{tenant}/sessions": {
      "parameters": [
        {
          "name": "tenant",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The tenant's id (a slug)."
        }
      ],
      "post": {
        "operationId": "createSession",
        "summary": "Add a session to a tenant",
        "tags": [
          "sessions"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CreateSession"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Added.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Session"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The session id exists.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "get": {
        "operationId": "listSessions",
        "summary": "List a tenant's sessions",
        "tags": [
          "sessions"
        ],
        "responses": {
          "200": {
            "description": "The sessions.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "sessions"
                  ],
                  "properties": {
                    "sessions": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/Session"
                      }
                    }
                  }
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/sessions/{session}": {
      "parameters": [
        {
          "name": "session",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The session's id (a slug)."
        }
      ],
      "get": {
        "operationId": "getSession",
        "summary": "Read a session (never its credentials)",
        "tags": [
          "sessions"
        ],
        "responses": {
          "200": {
            "description": "The session.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Session"
                }
              }
            }
          },
          "404": {
            "description": "No such session, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "patch": {
        "operationId": "updateSession",
        "summary": "Make primary, set status, or rotate credentials",
        "tags": [
          "sessions"
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/UpdateSession"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Changed.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Session"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "No such session, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "delete": {
        "operationId": "deleteSession",
        "summary": "Delete a session",
        "tags": [
          "sessions"
        ],
        "responses": {
          "204": {
            "description": "Deleted."
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "No such session, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/keys": {
      "post": {
        "operationId": "createAdminKey",
        "summary": "Issue an admin key (the token is shown once)",
        "tags": [
          "keys"
        ],
        "requestBody": {
          "required": false,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CreateKey"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Issued.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/APIKey"
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "get": {
        "operationId": "listKeys",
        "summary": "List every key",
        "tags": [
          "keys"
        ],
        "responses": {
          "200": {
            "description": "The keys (never their secrets).",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "keys"
                  ],
                  "properties": {
                    "keys": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/APIKey"
                      }
                    }
                  }
                }
              }
            }
          },
          "403": {
            "description": "A tenant key on an admin route.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/tenants/{tenant}/keys": {
      "parameters": [
        {
          "name": "tenant",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The tenant's id (a slug)."
        }
      ],
      "post": {
        "operationId": "createTenantKey",
        "summary": "Issue a key for a tenant (the token is shown once)",
        "tags": [
          "keys"
        ],
        "requestBody": {
          "required": false,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CreateKey"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Issued.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/APIKey"
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "get": {
        "operationId": "listTenantKeys",
        "summary": "List a tenant's keys",
        "tags": [
          "keys"
        ],
        "responses": {
          "200": {
            "description": "The keys.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "keys"
                  ],
                  "properties": {
                    "keys": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/APIKey"
                      }
                    }
                  }
                }
              }
            }
          },
          "404": {
            "description": "No such tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/keys/{key}": {
      "parameters": [
        {
          "name": "key",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The key's id (the part after sb_)."
        }
      ],
      "delete": {
        "operationId": "revokeKey",
        "summary": "Revoke a key",
        "tags": [
          "keys"
        ],
        "responses": {
          "204": {
            "description": "Revoked."
          },
          "404": {
            "description": "No such key, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/messages": {
      "post": {
        "operationId": "sendMessage",
        "summary": "Send a message: validated, published with confirm, answered 202 once the broker has it",
        "tags": [
          "messages"
        ],
        "parameters": [
          {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string",
              "pattern": "^[A-Za-z0-9._:-]{1,128}$"
            },
            "description": "The same key with the same body answers as the first time; with another body, 409. Defaults to the envelope's id."
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/SendMessage"
              }
            }
          }
        },
        "responses": {
          "202": {
            "description": "Queued (the header Idempotent-Replayed: true on a repeat).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/MessageReceipt"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "404": {
            "description": "Unknown session or tenant, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The idempotency key was used for another body, or the same request is in progress.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "413": {
            "description": "The body is over 1 MiB.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "The body is not JSON.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields (`errors` lists them).",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "429": {
            "description": "The tenant's backlog quota is full.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "503": {
            "description": "The broker is unreachable.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/messages/batch": {
      "post": {
        "operationId": "sendBatch",
        "summary": "Send up to 1,000 messages, a result per item",
        "tags": [
          "messages"
        ],
        "parameters": [
          {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string",
              "pattern": "^[A-Za-z0-9._:-]{1,128}$"
            },
            "description": "Each item's key becomes <key>:<index>."
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/SendBatch"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "A result per item, in order.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BatchResult"
                }
              }
            }
          },
          "400": {
            "description": "Malformed JSON or wrong types.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "413": {
            "description": "The body is over 8 MiB.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "415": {
            "description": "The body is not JSON.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "No messages, or more than 1,000.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/messages/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The message id."
        }
      ],
      "get": {
        "operationId": "getMessage",
        "summary": "What is known of a message so far",
        "tags": [
          "messages"
        ],
        "parameters": [
          {
            "name": "tenant",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "Required with an admin key."
          }
        ],
        "responses": {
          "200": {
            "description": "The message and its history.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Message"
                }
              }
            }
          },
          "404": {
            "description": "No such message, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "An admin key must name the tenant.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    },
    "/v1/contacts/{number}/messages": {
      "parameters": [
        {
          "name": "number",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The contact's number, E.164 (the + may be left out or sent as %2B)."
        }
      ],
      "get": {
        "operationId": "getContactMessages",
        "summary": "The message log of one contact, both ways, newest first",
        "tags": [
          "contacts"
        ],
        "parameters": [
          {
            "name": "tenant",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "Required with an admin key."
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 500,
              "default": 50
            }
          },
          {
            "name": "before",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "format": "date-time"
            },
            "description": "Only messages written before this time (a page's next_before)."
          }
        ],
        "responses": {
          "200": {
            "description": "One page of messages.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ContactThread"
                }
              }
            }
          },
          "422": {
            "description": "An invalid number, limit or before; or an admin key that names no tenant.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "401": {
            "description": "No valid API key.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": [
          "type",
          "title",
          "status"
        ],
        "properties": {
          "type": {
            "type": "string",
            "description": "urn:switchboard:problem:<kind>",
            "examples": [
              "urn:switchboard:problem:validation"
            ]
          },
          "title": {
            "type": "string"
          },
          "status": {
            "type": "integer"
          },
          "detail": {
            "type": "string"
          },
          "errors": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "field",
                "detail"
              ],
              "properties": {
                "field": {
                  "type": "string"
                },
                "detail": {
                  "type": "string"
                }
              }
            }
          },
          "message_id": {
            "type": "string",
            "description": "On a 503 whose publish is unconfirmed: the id a retry with the same key resumes."
          }
        }
      },
      "Tenant": {
        "type": "object",
        "required": [
          "id",
          "name",
          "session_rate",
          "bulk_share",
          "backlog_quota",
          "created_at"
        ],
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"
          },
          "name": {
            "type": "string"
          },
          "session_rate": {
            "type": "number",
            "description": "Messages per second per session.",
            "exclusiveMinimum": 0,
            "maximum": 1000
          },
          "bulk_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "The share of the rate bulk may use."
          },
          "backlog_quota": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1,
            "description": "Ready messages the tenant's queue may hold; null: unlimited."
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "CreateTenant": {
        "type": "object",
        "required": [
          "id",
          "name"
        ],
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"
          },
          "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200
          },
          "session_rate": {
            "type": "number",
            "default": 1
          },
          "bulk_share": {
            "type": "number",
            "default": 0.5
          },
          "backlog_quota": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          }
        }
      },
      "UpdateTenant": {
        "type": "object",
        "description": "A merge patch: absent fields stay, backlog_quota null removes the quota.",
        "properties": {
          "name": {
            "type": "string"
          },
          "session_rate": {
            "type": "number"
          },
          "bulk_share": {
            "type": "number"
          },
          "backlog_quota": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          }
        }
      },
      "Session": {
        "type": "object",
        "required": [
          "id",
          "tenant",
          "provider",
          "phone_number",
          "status",
          "primary",
          "created_at"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant": {
            "type": "string"
          },
          "provider": {
            "type": "string",
            "enum": [
              "wasender",
              "meta",
              "simulator"
            ]
          },
          "phone_number": {
            "type": "string",
            "description": "E.164."
          },
          "status": {
            "type": "string",
            "enum": [
              "connected",
              "connecting",
              "need_scan",
              "disconnected",
              "logged_out",
              "expired"
            ]
          },
          "primary": {
            "type": "boolean"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "webhook_secret": {
            "type": "string",
            "description": "Only in the answer that generated it."
          }
        }
      },
      "CreateSession": {
        "type": "object",
        "required": [
          "id",
          "provider",
          "phone_number"
        ],
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"
          },
          "provider": {
            "type": "string",
            "enum": [
              "wasender",
              "meta",
              "simulator"
            ]
          },
          "phone_number": {
            "type": "string",
            "description": "E.164, e.g. +14155550123."
          },
          "credentials": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            },
            "description": "Write-only; encrypted at rest."
          },
          "webhook_secret": {
            "type": "string",
            "minLength": 16,
            "description": "Write-only; generated and shown once when absent."
          },
          "primary": {
            "type": "boolean"
          },
          "status": {
            "type": "string",
            "enum": [
              "connected",
              "connecting",
              "need_scan",
              "disconnected",
              "logged_out",
              "expired"
            ]
          }
        }
      },
      "UpdateSession": {
        "type": "object",
        "properties": {
          "primary": {
            "type": "boolean",
            "const": true
          },
          "status": {
            "type": "string",
            "enum": [
              "connected",
              "connecting",
              "need_scan",
              "disconnected",
              "logged_out",
              "expired"
            ]
          },
          "credentials": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "webhook_secret": {
            "type": "string",
            "minLength": 16
          }
        }
      },
      "APIKey": {
        "type": "object",
        "required": [
          "id",
          "scope",
          "created_at"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "scope": {
            "type": "string",
            "enum": [
              "admin",
              "tenant"
            ]
          },
          "tenant": {
            "type": "string"
          },
          "label": {
            "type": "string"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "token": {
            "type": "string",
            "description": "sb_<id>_<secret>: only in the answer that created it."
          }
        }
      },
      "CreateKey": {
        "type": "object",
        "properties": {
          "label": {
            "type": "string",
            "maxLength": 200
          }
        }
      },
      "MessageMedia": {
        "type": "object",
        "required": [
          "url"
        ],
        "properties": {
          "url": {
            "type": "string",
            "format": "uri"
          },
          "filename": {
            "type": "string"
          }
        }
      },
      "MessageLocation": {
        "type": "object",
        "required": [
          "latitude",
          "longitude"
        ],
        "properties": {
          "latitude": {
            "type": "number",
            "minimum": -90,
            "maximum": 90
          },
          "longitude": {
            "type": "number",
            "minimum": -180,
            "maximum": 180
          },
          "name": {
            "type": "string"
          },
          "address": {
            "type": "string"
          }
        }
      },
      "MessageTemplate": {
        "type": "object",
        "required": [
          "name",
          "language"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "language": {
            "type": "string"
          },
          "parameters": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "SendMessage": {
        "type": "object",
        "required": [
          "to"
        ],
        "description": "The outbound envelope of ARCHITECTURE.md; defaults are filled.",
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9._:-]{1,128}$",
            "description": "Our message id and the idempotency key; a ULID when absent."
          },
          "tenant": {
            "type": "string",
            "description": "Required with an admin key; must be the key's tenant otherwise."
          },
          "session": {
            "type": "string",
            "description": "Defaults to the tenant's primary session."
          },
          "class": {
            "type": "string",
            "enum": [
              "transactional",
              "bulk"
            ],
            "default": "transactional"
          },
          "to": {
            "type": "string",
            "description": "E.164."
          },
          "type": {
            "type": "string",
            "enum": [
              "text",
              "image",
              "document",
              "audio",
              "video",
              "location",
              "template"
            ],
            "default": "text"
          },
          "text": {
            "type": "string",
            "maxLength": 4096,
            "description": "The text, or a media caption (at most 1,024)."
          },
          "media": {
            "anyOf": [
              {
                "$ref": "#/components/schemas/MessageMedia"
              },
              {
                "type": "null"
              }
            ]
          },
          "location": {
            "anyOf": [
              {
                "$ref": "#/components/schemas/MessageLocation"
              },
              {
                "type": "null"
              }
            ]
          },
          "template": {
            "anyOf": [
              {
                "$ref": "#/components/schemas/MessageTemplate"
              },
              {
                "type": "null"
              }
            ]
          },
          "campaign": {
            "type": [
              "string",
              "null"
            ],
            "maxLength": 128
          },
          "expires_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "metadata": {
            "type": [
              "object",
              "null"
            ],
            "additionalProperties": {
              "type": "string"
            }
          }
        }
      },
      "MessageReceipt": {
        "type": "object",
        "required": [
          "id",
          "tenant",
          "session",
          "class",
          "state",
          "accepted_at"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant": {
            "type": "string"
          },
          "session": {
            "type": "string"
          },
          "class": {
            "type": "string",
            "enum": [
              "transactional",
              "bulk"
            ]
          },
          "state": {
            "type": "string",
            "const": "queued"
          },
          "accepted_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "MessageState": {
        "type": "string",
        "enum": [
          "accepting",
          "unconfirmed",
          "queued",
          "sent",
          "delivered",
          "read",
          "played",
          "failed",
          "expired",
          "suppressed"
        ]
      },
      "Message": {
        "type": "object",
        "required": [
          "id",
          "tenant",
          "session",
          "class",
          "to",
          "type",
          "state",
          "created_at",
          "updated_at",
          "history"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "tenant": {
            "type": "string"
          },
          "session": {
            "type": "string"
          },
          "class": {
            "type": "string",
            "enum": [
              "transactional",
              "bulk"
            ]
          },
          "to": {
            "type": "string"
          },
          "type": {
            "type": "string",
            "enum": [
              "text",
              "image",
              "document",
              "audio",
              "video",
              "location",
              "template"
            ]
          },
          "campaign": {
            "type": "string"
          },
          "text": {
            "type": "string",
            "description": "The text, or a media item's caption."
          },
          "state": {
            "$ref": "#/components/schemas/MessageState"
          },
          "provider_message_id": {
            "type": "string"
          },
          "error": {
            "type": "string"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "history": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "state",
                "at"
              ],
              "properties": {
                "state": {
                  "$ref": "#/components/schemas/MessageState"
                },
                "at": {
                  "type": "string",
                  "format": "date-time"
                },
                "detail": {
                  "type": "string"
                }
              }
            }
          }
        }
      },
      "ContactThread": {
        "type": "object",
        "required": [
          "contact",
          "messages"
        ],
        "properties": {
          "contact": {
            "type": "string",
            "description": "The contact's number, E.164."
          },
          "messages": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "direction",
                "id",
                "at"
              ],
              "properties": {
                "direction": {
                  "type": "string",
                  "enum": [
                    "inbound",
                    "outbound"
                  ]
                },
                "id": {
                  "type": "string",
                  "description": "Our message id (outbound) or the event id (inbound)."
                },
                "session": {
                  "type": "string"
                },
                "provider_message_id": {
                  "type": "string"
                },
                "type": {
                  "type": "string"
                },
                "text": {
                  "type": "string"
                },
                "state": {
                  "$ref": "#/components/schemas/MessageState",
                  "description": "Outbound only."
                },
                "at": {
                  "type": "string",
                  "format": "date-time"
                }
              }
            }
          },
          "next_before": {
            "type": "string",
            "format": "date-time",
            "description": "Pass as before for the next, older page; absent on the last page."
          }
        }
      },
      "SendBatch": {
        "type": "object",
        "required": [
          "messages"
        ],
        "properties": {
          "messages": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": {
              "$ref": "#/components/schemas/SendMessage"
            }
          }
        }
      },
      "BatchResult": {
        "type": "object",
        "required": [
          "accepted",
          "rejected",
          "results"
        ],
        "properties": {
          "accepted": {
            "type": "integer"
          },
          "rejected": {
            "type": "integer"
          },
          "results": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "index",
                "status"
              ],
              "properties": {
                "index": {
                  "type": "integer"
                },
                "status": {
                  "type": "integer",
                  "description": "What POST /v1/messages would have answered."
                },
                "id": {
                  "type": "string"
                },
                "replayed": {
                  "type": "boolean"
                },
                "problem": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        }
      },
      "Health": {
        "type": "object",
        "required": [
          "status",
          "checks"
        ],
        "properties": {
          "status": {
            "type": "string"
          },
          "checks": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          }
        }
      }
    },
    "securitySchemes": {
      "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "sb_<id>_<secret>, admin or tenant scoped."
      }
    }
  }
}
"""#
}
