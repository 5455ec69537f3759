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
    "description": "The REST API of the Switchboard WhatsApp gateway: tenants, sessions, API keys, sending, message status, the message log and policy of a contact, the shared inbox and the bot's rules. Errors are RFC 9457 problem details (application/problem+json)."
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
    },
    {
      "name": "inbox"
    },
    {
      "name": "bot"
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
    },
    "/v1/contacts/{number}": {
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
        "operationId": "getContact",
        "summary": "A contact's opt-out and bulk pause",
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
          }
        ],
        "responses": {
          "200": {
            "description": "The policy (defaults for a contact never seen).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ContactPolicy"
                }
              }
            }
          },
          "404": {
            "description": "No such contact, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "An admin key that names no tenant.",
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
        "operationId": "updateContact",
        "summary": "Opt a contact out or in, pause or resume its bulk messages",
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
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ContactChange"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Changed; the dispatcher follows at once.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ContactPolicy"
                }
              }
            }
          },
          "404": {
            "description": "No such contact, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "An admin key that names no tenant.",
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
    "/v1/conversations": {
      "get": {
        "operationId": "listConversations",
        "summary": "A tenant's conversations, most recent first",
        "tags": [
          "inbox"
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
            "name": "state",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "open",
                "waiting",
                "resolved"
              ]
            }
          },
          {
            "name": "assignee",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            }
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
            "description": "Conversations whose last message is older (a page's next_before)."
          }
        ],
        "responses": {
          "200": {
            "description": "One page.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ConversationPage"
                }
              }
            }
          },
          "422": {
            "description": "An invalid state, limit or before; or an admin key that names no tenant.",
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
    "/v1/conversations/{number}": {
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
        "operationId": "getConversation",
        "summary": "One conversation with its latest messages and the contact's policy",
        "tags": [
          "inbox"
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
          }
        ],
        "responses": {
          "200": {
            "description": "The conversation.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Conversation"
                }
              }
            }
          },
          "404": {
            "description": "No such conversation, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "An admin key that names no tenant.",
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
    "/v1/conversations/{number}/reply": {
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
      "post": {
        "operationId": "replyToConversation",
        "summary": "An agent's reply: a transactional message through sb.outbound; the conversation waits for the contact",
        "tags": [
          "inbox"
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
                "$ref": "#/components/schemas/ConversationReplyRequest"
              }
            }
          }
        },
        "responses": {
          "202": {
            "description": "Queued.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ConversationReply"
                }
              }
            }
          },
          "404": {
            "description": "No such conversation or session, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "The idempotency key was used for another body.",
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
    "/v1/conversations/{number}/assign": {
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
      "post": {
        "operationId": "assignConversation",
        "summary": "Assign the conversation to an agent (null unassigns)",
        "tags": [
          "inbox"
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
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Assign"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Assigned.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Conversation"
                }
              }
            }
          },
          "404": {
            "description": "No such conversation, or another tenant's.",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "422": {
            "description": "Invalid assignee.",
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
    "/v1/conversations/{number}/read": {
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
      "post": {
        "operationId": "markConversationRead",
        "summary": "Nothing unread",
        "tags": [
          "inbox"
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
            "description": "Marked.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Conversation"
                }
              }
            }
          },
          "404": {
            "description": "No such conversation, or another tenant's.",
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
    "/v1/conversations/{number}/resolve": {
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
      "post": {
        "operationId": "resolveConversation",
        "summary": "Resolve: nothing unread, the contact's bulk pause lifted",
        "tags": [
          "inbox"
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
            "description": "Resolved.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Conversation"
                }
              }
            }
          },
          "404": {
            "description": "No such conversation, or another tenant's.",
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
    "/v1/bot": {
      "get": {
        "operationId": "getBotSettings",
        "summary": "The tenant's bot settings (the forward secret is never shown)",
        "tags": [
          "bot"
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
            "description": "The settings (defaults until set).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BotSettings"
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
      "put": {
        "operationId": "putBotSettings",
        "summary": "Replace the tenant's bot settings",
        "tags": [
          "bot"
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
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/BotSettings"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Saved.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BotSettings"
                }
              }
            }
          },
          "422": {
            "description": "Invalid fields (`errors` names the one at fault).",
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
    "/v1/bot/rules": {
      "get": {
        "operationId": "listBotRules",
        "summary": "The tenant's keyword rules, oldest first",
        "tags": [
          "bot"
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
            "description": "The rules.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "rules"
                  ],
                  "properties": {
                    "rules": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/BotRule"
                      }
                    }
                  }
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
      "post": {
        "operationId": "addBotRule",
        "summary": "Add a keyword rule",
        "tags": [
          "bot"
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
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/BotRule"
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
                  "$ref": "#/components/schemas/BotRule"
                }
              }
            }
          },
          "409": {
            "description": "A rule with this id exists.",
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
      }
    },
    "/v1/bot/rules/{id}": {
      "parameters": [
        {
          "name": "id",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The rule's id."
        }
      ],
      "put": {
        "operationId": "replaceBotRule",
        "summary": "Replace a keyword rule",
        "tags": [
          "bot"
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
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/BotRule"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Replaced.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/BotRule"
                }
              }
            }
          },
          "404": {
            "description": "No such rule, or another tenant's.",
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
        "operationId": "deleteBotRule",
        "summary": "Delete a keyword rule",
        "tags": [
          "bot"
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
          "204": {
            "description": "Deleted."
          },
          "404": {
            "description": "No such rule, or another tenant's.",
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
      "ContactPolicy": {
        "type": "object",
        "required": [
          "contact",
          "opted_out",
          "bulk_allowed"
        ],
        "properties": {
          "contact": {
            "type": "string",
            "description": "E.164."
          },
          "opted_out": {
            "type": "boolean",
            "description": "The contact sent an opt-out keyword (or an operator set it): no bulk messages."
          },
          "opted_out_at": {
            "type": "string",
            "format": "date-time"
          },
          "paused_until": {
            "type": "string",
            "format": "date-time",
            "description": "Bulk messages wait until then (a reply paused them; resolving lifts it)."
          },
          "bulk_allowed": {
            "type": "boolean"
          },
          "suppression": {
            "type": "string",
            "enum": [
              "opted-out",
              "paused"
            ]
          }
        }
      },
      "ContactChange": {
        "type": "object",
        "description": "An operator's change; absent fields stay.",
        "properties": {
          "opted_out": {
            "type": "boolean"
          },
          "paused_until": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time",
            "description": "null lifts a pause."
          }
        }
      },
      "Conversation": {
        "type": "object",
        "required": [
          "contact",
          "state",
          "unread",
          "last_message_at",
          "last_message_direction",
          "opened_at",
          "updated_at"
        ],
        "properties": {
          "contact": {
            "type": "string",
            "description": "E.164: one conversation per tenant and contact."
          },
          "session": {
            "type": "string",
            "description": "The session the contact last wrote to; replies go through it."
          },
          "state": {
            "type": "string",
            "enum": [
              "open",
              "waiting",
              "resolved"
            ],
            "description": "open: the contact wrote last; waiting: an agent answered; resolved: done."
          },
          "unread": {
            "type": "integer"
          },
          "assignee": {
            "type": "string"
          },
          "contact_name": {
            "type": "string"
          },
          "last_message_at": {
            "type": "string",
            "format": "date-time"
          },
          "last_message_direction": {
            "type": "string",
            "enum": [
              "inbound",
              "outbound"
            ]
          },
          "last_message_preview": {
            "type": "string"
          },
          "opened_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "contact_policy": {
            "$ref": "#/components/schemas/ContactPolicy",
            "description": "When one conversation is read or resolved."
          },
          "messages": {
            "type": "array",
            "description": "When one conversation is read: its latest messages, both ways, newest first.",
            "items": {
              "type": "object"
            }
          }
        }
      },
      "ConversationPage": {
        "type": "object",
        "required": [
          "conversations"
        ],
        "properties": {
          "conversations": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Conversation"
            }
          },
          "next_before": {
            "type": "string",
            "format": "date-time",
            "description": "Pass as before for the next, older page."
          }
        }
      },
      "ConversationReplyRequest": {
        "type": "object",
        "properties": {
          "text": {
            "type": "string",
            "maxLength": 4096
          },
          "type": {
            "type": "string",
            "enum": [
              "text",
              "image",
              "document",
              "audio",
              "video"
            ],
            "default": "text"
          },
          "media": {
            "$ref": "#/components/schemas/MessageMedia"
          },
          "session": {
            "type": "string",
            "description": "Another session of the tenant than the conversation's."
          },
          "agent": {
            "type": "string",
            "maxLength": 128,
            "description": "Kept in the message's metadata (else the assignee)."
          }
        }
      },
      "ConversationReply": {
        "type": "object",
        "required": [
          "message",
          "conversation"
        ],
        "properties": {
          "message": {
            "$ref": "#/components/schemas/MessageReceipt"
          },
          "conversation": {
            "$ref": "#/components/schemas/Conversation"
          }
        }
      },
      "Assign": {
        "type": "object",
        "properties": {
          "assignee": {
            "type": [
              "string",
              "null"
            ],
            "maxLength": 128,
            "description": "null unassigns."
          }
        }
      },
      "OfficeHours": {
        "type": "object",
        "required": [
          "time_zone",
          "days"
        ],
        "properties": {
          "time_zone": {
            "type": "string",
            "examples": [
              "Europe/Berlin"
            ]
          },
          "days": {
            "type": "object",
            "description": "mon…sun to intervals like 09:00-17:30; a day absent is closed.",
            "additionalProperties": {
              "type": "array",
              "items": {
                "type": "string",
                "pattern": "^\\d\\d:\\d\\d-\\d\\d:\\d\\d$"
              }
            }
          }
        }
      },
      "BotSettings": {
        "type": "object",
        "description": "Absent fields take their defaults (forward_secret: stays as it was).",
        "properties": {
          "enabled": {
            "type": "boolean",
            "default": true,
            "description": "false: no replies or forwards; opt-out keywords still opt out, unconfirmed."
          },
          "opt_out_keywords": {
            "type": "array",
            "items": {
              "type": "string"
            },
            "default": [
              "STOP",
              "UNSUBSCRIBE"
            ]
          },
          "opt_out_reply": {
            "type": [
              "string",
              "null"
            ],
            "description": "The confirmation, sent once; null sends none."
          },
          "opt_in_keywords": {
            "type": "array",
            "items": {
              "type": "string"
            },
            "default": [
              "START"
            ]
          },
          "opt_in_reply": {
            "type": [
              "string",
              "null"
            ]
          },
          "office_hours": {
            "$ref": "#/components/schemas/OfficeHours"
          },
          "out_of_hours_reply": {
            "type": "string"
          },
          "out_of_hours_cooldown_seconds": {
            "type": "integer",
            "default": 43200,
            "minimum": 60
          },
          "forward_url": {
            "type": "string",
            "format": "uri",
            "description": "Messages no rule answers are POSTed here, signed (Standard Webhooks); a reply (or text) member of a 2xx JSON answer is sent."
          },
          "forward_secret": {
            "type": "string",
            "minLength": 16,
            "maxLength": 256,
            "description": "Write-only: the HMAC key of webhook-signature."
          },
          "forward_timeout_seconds": {
            "type": "number",
            "default": 5,
            "minimum": 0.1,
            "maximum": 30
          },
          "reply_limit": {
            "type": "integer",
            "default": 5,
            "minimum": 1,
            "maximum": 100,
            "description": "Automatic replies per contact per window."
          },
          "reply_window_seconds": {
            "type": "integer",
            "default": 3600,
            "minimum": 10,
            "maximum": 86400
          },
          "forward_secret_set": {
            "type": "boolean",
            "readOnly": true
          }
        }
      },
      "BotRule": {
        "type": "object",
        "required": [
          "keywords",
          "reply"
        ],
        "properties": {
          "id": {
            "type": "string",
            "pattern": "^[a-z0-9-]{1,63}$",
            "description": "Generated when absent."
          },
          "keywords": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
              "type": "string",
              "maxLength": 64
            },
            "description": "A message that is exactly one of them (case, spaces and trailing punctuation ignored) gets the reply."
          },
          "reply": {
            "type": "string",
            "maxLength": 4096
          },
          "created_at": {
            "type": "string",
            "format": "date-time",
            "readOnly": true
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
